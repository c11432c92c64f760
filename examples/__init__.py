"""Small complete bots to copy from."""
