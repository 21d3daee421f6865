// The shared-memory intake as a command source. The intake itself (its sleep, wake and
// maintenance) stays the writer's: it is also the doorbell the apply thread sleeps on.
#pragma once

#include "command_source.hpp"
#include "intake/command_intake.hpp"

namespace evring::writer {

class SharedMemorySource final : public CommandSource {
 public:
  explicit SharedMemorySource(CommandIntake& intake) noexcept : intake_(intake) {}

  bool next(SourcedCommand& out) override {
    if (!intake_.next(current_)) return false;
    out.from = current_.from;
    out.format = current_.format;
    out.id = current_.id;
    out.payload = current_.payload;
    return true;
  }
  void done(const SourcedCommand& /*command*/) override { intake_.finish(current_); }
  void reply(const ReplyTo& to, const CommandReply& reply) override {
    intake_.reply(std::get<ReplyAddress>(to), reply);
  }
  // Its own rings are what the intake's sleep looks at last.
  bool pending() const override { return false; }

 private:
  CommandIntake& intake_;
  IncomingCommand current_;  // the one taken last, until done()
};

}  // namespace evring::writer
