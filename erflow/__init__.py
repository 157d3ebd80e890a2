"""erflow: a company's customer-request process over a plain-file ticket store kept in git."""

__version__ = "0.1.0"
