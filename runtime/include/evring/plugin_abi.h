/* What every evring plugin ABI shares: the status codes and the sink through which a
 * plugin hands bytes to its host. Plain C, so a plugin built with another compiler or
 * standard library still loads. A plugin never frees what the host gives it, nor the
 * host what a plugin gives it: bytes cross the boundary only by copying into a sink. */
#ifndef EVRING_PLUGIN_ABI_H
#define EVRING_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum evring_status {
  EVRING_OK = 0,
  EVRING_REJECTED = 1,  /* a command broke a rule of the domain; the reason says which */
  EVRING_MALFORMED = 2, /* a command or query that does not parse; the reason says why */
  EVRING_FAILED = 3     /* the plugin could not do what was asked; the message says why */
};

/* Where a plugin writes bytes the host keeps: a reason, an event, a parsed command, a
 * snapshot, a JSON reply. write() copies; it returns 0, or nonzero when the host refuses
 * (the bytes would exceed its limit), after which the plugin should return EVRING_FAILED. */
typedef struct evring_sink {
  void* context;
  int (*write)(void* context, const void* data, size_t size);
} evring_sink;

/* One event, as the view ABI's on_event(s) and the domain ABI's apply_events get it.
 * payload is valid only during the call. */
typedef struct evring_event {
  uint64_t seq;
  uint32_t type;
  uint32_t reserved;  /* 0 */
  int64_t publish_ns; /* the writer's CLOCK_MONOTONIC when it published the event */
  const void* payload;
  size_t size;
} evring_event;

#ifdef __cplusplus
}
#endif

#endif /* EVRING_PLUGIN_ABI_H */
