"""Email: templates rendered sandboxed and strict, messages built and delivered over SMTP."""
