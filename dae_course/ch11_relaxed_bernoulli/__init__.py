"""Chapter 11's exact references, figures and exercise checkers."""
