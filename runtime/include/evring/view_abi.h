/* The view plugin ABI: a query view (read model) of an instance's events, hosted by
 * evring-reader.
 *
 * The reader applies each event with on_event(), in sequence order, exactly once, and
 * answers queries with query(). Both run on the one thread that owns the view, so a view
 * needs no locks. A view that fails on an event stops its reader (or, with
 * --on-error skip, the event goes to a dead-letter file): a reader never advances silently
 * past a failure.
 *
 * Versions: a shared library exports EVRING_VIEW_ENTRY_SYMBOL, a function returning a table
 * whose first two fields (abi_version, table_bytes) keep their place in every version. The
 * host loads tables of every version from EVRING_VIEW_ABI_OLDEST_VERSION to its own and
 * refuses others, naming both. Each version only adds entries at the end, as optional
 * ones, and the table keeps its version 1 name (evring_view_v1), so a plugin written for
 * version 1 still compiles, loads and runs: a table shorter than this header's (its
 * table_bytes says so, at least EVRING_VIEW_V1_REQUIRED_BYTES), or of an older version, has
 * its host treat the entries it lacks as NULL.
 *
 *   version 1  on_event, one event per call
 *   version 2  on_events, a run of events per call (catch-up from the journal hands over
 *              runs of up to a few dozen), so a view can look ahead: prefetch the state the
 *              next events touch while it applies this one */
#ifndef EVRING_VIEW_ABI_H
#define EVRING_VIEW_ABI_H

#include "evring/domain_abi.h"
#include "evring/plugin_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVRING_VIEW_ABI_VERSION 2u
#define EVRING_VIEW_ABI_OLDEST_VERSION 1u /* the oldest a host of this header still loads */
#define EVRING_VIEW_ENTRY_SYMBOL "evring_view_entry"

typedef struct evring_view_v1 {
  uint32_t abi_version; /* EVRING_VIEW_ABI_VERSION the plugin was built with */
  uint32_t table_bytes; /* sizeof(evring_view_v1) as the plugin saw it */
  const char* name;     /* short, e.g. "kv"; shown by evring stat */

  /* A fresh, empty view. config (--view-config) may be NULL. NULL and a reason on failure. */
  void* (*create)(const char* config, evring_sink* error);
  void (*destroy)(void* view);

  /* Applies one event. EVRING_OK, or EVRING_FAILED with a message (a poison event). */
  int (*on_event)(void* view, const evring_event* event, evring_sink* error);
  /* Answers a query given as words (`get alice`): writes one JSON value to json and
   * returns EVRING_OK, or EVRING_MALFORMED (unknown or bad words) / EVRING_FAILED with a
   * message. Must not change the view. */
  int (*query)(const void* view, const char* const* words, size_t count, evring_sink* json,
               evring_sink* error);

  /* The whole view as bytes, and back into a view freshly made by create(). */
  int (*snapshot)(const void* view, evring_sink* out);
  int (*restore)(void* view, const void* data, size_t size, evring_sink* error);

  /* Optional entries (NULL, or past a shorter table_bytes: not given). */

  /* The domain whose events the view reads ("bank"). The reader refuses to start it on an
   * instance that runs another domain, saying so. NULL: the view reads any domain. */
  const char* domain;
  /* Tells the view which domain its instance runs, after each create() (so again after a
   * restore or a rebuild), before any event: its name, and its table when the reader could
   * load it (NULL otherwise: a plugin that moved), for describe() and type_name(). The
   * table stays valid while the view lives. EVRING_OK, or EVRING_FAILED with why the view
   * cannot read that domain. Not called when the reader cannot learn the domain. */
  int (*set_domain)(void* view, const char* name, const evring_domain_v1* domain,
                    evring_sink* error);

  /* Version 2 (NULL in a version 1 table, and optional in version 2). */

  /* Applies events[0] to events[count - 1] (count >= 1, consecutive seqs) in order, as count
   * calls of on_event would; the host calls it instead of on_event, also for one event.
   * EVRING_OK when all are applied. EVRING_FAILED with a message when one fails: *applied
   * then says how many were applied before it (events[*applied] is the poison event; the
   * ones after it were not applied). Payloads are valid only during the call. */
  int (*on_events)(void* view, const evring_event* events, size_t count, size_t* applied,
                   evring_sink* error);
} evring_view_v1;

/* The table as the first release of version 1 had it: every entry before domain. */
#define EVRING_VIEW_V1_REQUIRED_BYTES offsetof(evring_view_v1, domain)

typedef const evring_view_v1* (*evring_view_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* EVRING_VIEW_ABI_H */
