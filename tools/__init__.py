"""Developer tools: the review tool for the reviewed reference set and figure scripts."""
