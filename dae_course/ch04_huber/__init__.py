"""Chapter 04's toy problems, figures and exercise checkers."""
