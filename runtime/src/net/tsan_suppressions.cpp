// ThreadSanitizer's suppressions, in the TSan build only (runtime/CMakeLists.txt adds this
// file to every program that links the runtime; no release binary has it).
//
// Why: moodycamel::ConcurrentQueue hands a block back to its producer with a relaxed load
// and a standalone acquire fence (Block::is_empty), and GCC's TSan does not model
// standalone fences (see the top-level CMakeLists.txt). It then reports the producer's
// reuse of a slot the consumer has moved out of as a race (the socket server's queues,
// net/socket_server.cpp and its framings, use explicit producers). With inlining, those
// frames are named "enqueue<...>" without their class, so the queue's header is what
// identifies them: a report with a frame inside the queue is suppressed, since TSan cannot
// check the queue's ordering anyway. Our own code is still checked.
extern "C" const char* __tsan_default_suppressions() {
  return "race:concurrentqueue/concurrentqueue.h\n";
}
