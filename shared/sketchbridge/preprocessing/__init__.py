"""Pure image functions: decode and harden, fit to a provider. No I/O."""
