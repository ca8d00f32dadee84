"""Chapter 05's toy problems, figures and exercise checkers."""
