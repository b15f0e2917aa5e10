"""An empty migrations package: platform_ops as if no migration had been written."""
