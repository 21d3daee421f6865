// The long run of the fan-out test: five million records to three reader processes.
// Labelled heavy: run by `make test`, skipped under sanitizers.
#include <gtest/gtest.h>

#include "ring_process_support.hpp"

TEST(RingProcessesHeavy, ThreeReaderProcessesSeeFiveMillionRecords) {
  evring::test::every_reader_sees_every_record(5'000'000);
}
