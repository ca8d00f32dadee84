"""Chapter 08's toy problems, figures and exercise checkers."""
