// ThreadSanitizer's suppressions, in the TSan build only (runtime/CMakeLists.txt adds this
// file to every program that links the runtime; no release binary has it).
//
// Why: moodycamel::ConcurrentQueue hands a block back to its producer with a relaxed load
// and a standalone acquire fence (Block::is_empty), and GCC's TSan does not model
// standalone fences (see the top-level CMakeLists.txt). It then reports the producer's
// reuse of a slot the consumer has moved out of as a race. The socket server's queues
// (net/socket_server.cpp, the query and command framings) use explicit producers, so the
// report would come from any of them. Only frames inside the queue are suppressed; our own
// code is still checked.
extern "C" const char* __tsan_default_suppressions() {
  return "race:moodycamel::ConcurrentQueue*::ExplicitProducer::enqueue*\n";
}
