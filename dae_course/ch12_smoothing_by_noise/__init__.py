"""Chapter 12's toy problems, figures and exercise checkers."""
