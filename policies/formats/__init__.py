"""Report writers: JSON for machines, Markdown for people."""
