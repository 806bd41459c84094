"""s3-resize-proxy: serve an S3 bucket and make thumbnails on demand."""

__version__ = "0.1.0"
