"""captum-nas: region explanations for Captum with Neuro-Activated Superpixels."""

__version__ = "0.1.0.dev0"
