"""Developer tools: generators whose output is committed (site files and their docs)."""
