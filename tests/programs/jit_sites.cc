// Placeholder: filled in by the rewrite tests.
int main() { return 0; }
