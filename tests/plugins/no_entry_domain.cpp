// A shared library that is not a domain plugin: it exports no evring_domain_entry.
extern "C" __attribute__((visibility("default"))) int not_a_domain(void) {
  return 42;
}
