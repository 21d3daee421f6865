/* The domain plugin ABI: the command model of an instance, loaded by evring-writer.
 *
 * A domain is event-sourced: handle() decides a command against the current state and
 * emits 0..n events without changing the state; the host journals and publishes them and
 * then calls apply() for each. apply() is the only way the state changes, live and at
 * recovery, so replaying the journal rebuilds exactly the state the writer had.
 *
 * Threads: the host calls every function of one domain instance from one thread at a
 * time. parse() and describe() take no state and may be called from any thread.
 *
 * Versions: a shared library exports EVRING_DOMAIN_ENTRY_SYMBOL, a function returning a
 * table whose first two fields (abi_version, table_bytes) keep their place in every
 * version. The host refuses a table whose abi_version is not its own, naming both. Within
 * a version, entries are only ever added at the end, as optional ones: a plugin built
 * against an older header has a shorter table (its table_bytes says so, at least
 * EVRING_DOMAIN_V1_REQUIRED_BYTES) and still loads, its host treating the entries it lacks
 * as NULL. */
#ifndef EVRING_DOMAIN_ABI_H
#define EVRING_DOMAIN_ABI_H

#include "evring/plugin_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVRING_DOMAIN_ABI_VERSION 1u
#define EVRING_DOMAIN_ENTRY_SYMBOL "evring_domain_entry"

/* Receives the events of an accepted command, in order. emit() copies; nonzero means the
 * event is refused (too large for the ring or the journal) and the command must fail. */
typedef struct evring_event_sink {
  void* context;
  int (*emit)(void* context, uint32_t type, const void* payload, size_t size);
} evring_event_sink;

typedef struct evring_domain_v1 {
  uint32_t abi_version; /* EVRING_DOMAIN_ABI_VERSION the plugin was built with */
  uint32_t table_bytes; /* sizeof(evring_domain_v1) as the plugin saw it */
  const char* name;     /* short and stable, e.g. "bank"; journals record it */

  /* A fresh, empty model. config may be NULL. Returns NULL and writes why on failure. */
  void* (*create)(const char* config, evring_sink* error);
  void (*destroy)(void* model);

  /* Decides one command (bytes from parse(), or a client's own encoding). Returns
   * EVRING_OK after emitting the events, or EVRING_REJECTED / EVRING_MALFORMED /
   * EVRING_FAILED after writing the reason. Must not change the model. */
  int (*handle)(const void* model, const void* command, size_t size, evring_event_sink* events,
                evring_sink* reason);
  /* Applies one event. EVRING_OK, or EVRING_FAILED with a message: the host stops, since a
   * model that cannot apply its own history cannot be trusted. */
  int (*apply)(void* model, uint32_t type, const void* payload, size_t size, evring_sink* error);

  /* Text words (as typed after `evring cmd`) to command bytes. EVRING_OK or
   * EVRING_MALFORMED with the reason. */
  int (*parse)(const char* const* words, size_t count, evring_sink* command, evring_sink* error);
  /* One event as one JSON object, for `evring tail`. EVRING_OK or EVRING_FAILED. */
  int (*describe)(uint32_t type, const void* payload, size_t size, evring_sink* json);

  /* The whole model as bytes, and back into a model freshly made by create(). */
  int (*snapshot)(const void* model, evring_sink* out);
  int (*restore)(void* model, const void* data, size_t size, evring_sink* error);

  /* Optional entries (NULL, or past a shorter table_bytes: not given). */

  /* The name of an event type ("deposited"), static and NUL-terminated, or NULL for a type
   * the domain does not know. Shown by the stats view; any thread. */
  const char* (*type_name)(uint32_t type);

  /* Applies events[0] to events[count - 1] (count >= 1, consecutive seqs) in order, as
   * count calls of apply() would: the writer's replay at start hands runs of the journal,
   * so a model can look ahead (prefetch the state the next events touch). EVRING_OK when
   * all are applied; EVRING_FAILED with a message when one fails, *applied then saying how
   * many were applied before it. NULL: the host calls apply() for each. */
  int (*apply_events)(void* model, const evring_event* events, size_t count, size_t* applied,
                      evring_sink* error);
} evring_domain_v1;

/* The table as the first release of version 1 had it: every entry before type_name. */
#define EVRING_DOMAIN_V1_REQUIRED_BYTES offsetof(evring_domain_v1, type_name)

typedef const evring_domain_v1* (*evring_domain_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* EVRING_DOMAIN_ABI_H */
