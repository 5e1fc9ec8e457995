"""Arabic text: normalisation with offsets back to the original, tokens, dates, word memos."""
