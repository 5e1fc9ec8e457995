"""Raw page text or HTML → a ParsedArticle (title, section, dateline, dates, body)."""
