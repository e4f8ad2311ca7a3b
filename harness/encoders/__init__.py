"""Build pretrained encoders offline from files shipped in installed packages."""
