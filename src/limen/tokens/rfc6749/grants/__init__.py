"""The grant types Limen's token endpoint supports."""
