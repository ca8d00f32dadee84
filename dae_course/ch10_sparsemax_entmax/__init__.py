"""Chapter 10's page copies (sparsemax by sorting, entmax by bisection, zero temperatures),
figures and exercise checkers."""
