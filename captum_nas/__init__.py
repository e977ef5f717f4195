"""captum-nas: region explanations for Captum with Neuro-Activated Superpixels."""

#: The one version string: ``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``).
__version__ = "0.1.0.dev0"
