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
        "pillow-heif>=1.0",  # HEIC/HEIF originals (decoded only)
        "cachetools>=5.3",
    ],
    # The demo's page (HTML, CSS, JS) is served from the package.
    package_data={"proxy.demo": ["page/*.html", "page/*.css", "page/*.js"]},
    extras_require={
        # The demo runs moto's S3 server locally: moto's S3 and the two packages its server imports. moto[server]
        # works too but brings every other AWS service's dependencies (about twice the install time and size).
        "demo": ["moto[s3]>=5.0", "flask!=2.2.0,!=2.2.1", "flask-cors"],
        "dev": [
            "moto[server]>=5.0",
            "pytest>=8",
            "pytest-timeout>=2.3",
            "requests>=2.31",
            "ruff>=0.17,<0.18",  # CI checks formatting too: a minor release may restyle it
            "selenium>=4.20",  # tests/test_demo_page.py drives Debian's chromium through chromedriver
        ],
    },
    entry_points={"console_scripts": ["s3-resize-proxy = proxy.cli:main"]},
)
