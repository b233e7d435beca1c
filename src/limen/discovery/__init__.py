"""Discovery: find exposed credentials and the shadow identities behind them."""
