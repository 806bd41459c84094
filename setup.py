from setuptools import find_packages, setup

setup(
    name="s3-resize-proxy",
    version="0.1.0",
    description="Serve an S3 bucket and make thumbnails on demand (Tornado + Pillow).",
    packages=find_packages(include=["proxy", "proxy.*"]),
    python_requires=">=3.11",
    install_requires=[
        "prometheus_client>=0.20",
        "tornado>=6.4",
        "botocore>=1.35",
        "Pillow>=11",
        "cachetools>=5.3",
    ],
    extras_require={
        # The demo runs moto's S3 server locally.
        "demo": ["moto[server]>=5.0"],
        "dev": ["moto[server]>=5.0", "pytest>=8", "pytest-timeout>=2.3", "requests>=2.31", "ruff>=0.6"],
    },
    entry_points={"console_scripts": ["s3-resize-proxy = proxy.cli:main"]},
)
