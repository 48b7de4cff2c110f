"""synthaug: make small labelled image datasets bigger with class-conditional GANs,
and measure honestly whether that helped."""

__version__ = "0.1.0"
