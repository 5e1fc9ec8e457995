"""Story grouping of articles from several outlets, and the story-level alert lifecycle."""
