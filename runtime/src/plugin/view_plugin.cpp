#include "plugin/view_plugin.hpp"

#include <algorithm>

#include "evring/error.hpp"
#include "plugin/plugin_library.hpp"

namespace evring {
namespace {

constexpr detail::PluginKind kViewKind{"view", EVRING_VIEW_ENTRY_SYMBOL, "kv, bank, stats, tail",
                                       "EVRING_EXPORT_VIEW"};
constexpr std::size_t kQueryReplyLimit = 16u << 20;

void check_table(const evring_view_v1* table, const std::string& origin) {
  if (table == nullptr) {
    throw Error(ErrorCode::invalid_argument,
                origin + ": its " + EVRING_VIEW_ENTRY_SYMBOL + "() returned no table");
  }
  detail::check_abi_version(table->abi_version, EVRING_VIEW_ABI_OLDEST_VERSION,
                            EVRING_VIEW_ABI_VERSION, origin, kViewKind);
  if (table->table_bytes < EVRING_VIEW_V1_REQUIRED_BYTES || table->name == nullptr ||
      table->create == nullptr || table->destroy == nullptr || table->on_event == nullptr ||
      table->query == nullptr || table->snapshot == nullptr || table->restore == nullptr) {
    throw Error(ErrorCode::incompatible,
                origin +
                    " has an incomplete view table (a function or its name is missing): "
                    "build it with evring/view.hpp's EVRING_EXPORT_VIEW");
  }
}

// At this evring's size; a version 1 table has no on_events, whatever lies past its
// set_domain.
std::shared_ptr<const evring_view_v1> host_copy(const evring_view_v1* table) {
  auto copy = std::const_pointer_cast<evring_view_v1>(detail::full_size_copy(table));
  if (table->abi_version < 2) copy->on_events = nullptr;
  return copy;
}

}  // namespace

ViewPlugin ViewPlugin::load_library(const std::filesystem::path& path, const std::string& config) {
  detail::PluginEntry loaded = detail::load_plugin_entry(path, kViewKind);
  const auto* table = reinterpret_cast<evring_view_entry_fn>(loaded.entry)();
  check_table(table, path.string());
  return ViewPlugin(std::move(loaded.library), table, path.string(), config);
}

ViewPlugin ViewPlugin::from_table(const evring_view_v1* table, const std::string& origin,
                                  const std::string& config) {
  check_table(table, origin);
  return ViewPlugin(nullptr, table, origin, config);
}

ViewPlugin::ViewPlugin(std::shared_ptr<void> library, const evring_view_v1* table,
                       std::string origin, std::string config)
    : table_(host_copy(table)),
      origin_(origin),
      view_(std::move(library),
            PluginLifecycle{table->create, table->destroy, table->snapshot, table->restore},
            "view " + origin, std::move(config)) {}

void ViewPlugin::set_domain(std::string_view instance, const std::string& domain,
                            std::optional<DomainDescriber> describer) {
  const std::string_view declared = declared_domain();
  if (!declared.empty() && declared != domain) {
    throw Error(ErrorCode::incompatible,
                "view " + std::string(name()) + " reads events of domain " + std::string(declared) +
                    ", but instance \"" + std::string(instance) + "\" runs domain " + domain +
                    ": start it on a " + std::string(declared) + " instance");
  }
  if (table_->set_domain == nullptr) return;
  domain_ = std::move(describer);
  const evring_domain_v1* domain_table = domain_ ? domain_->table() : nullptr;
  view_.set_prepare([table = table_, origin = origin_, domain, domain_table](void* object) {
    std::string error;
    detail::TextSink sink(error, detail::kPluginMessageLimit);
    if (table->set_domain(object, domain.c_str(), domain_table, &sink.sink) != EVRING_OK) {
      throw Error(ErrorCode::incompatible, "view " + origin + " cannot read events of domain " +
                                               domain + ": " +
                                               (error.empty() ? "no reason given" : error));
    }
  });
}

bool ViewPlugin::on_event(const evring_event& event, std::string& error) {
  error.clear();
  detail::TextSink sink(error, detail::kPluginMessageLimit);
  if (table_->on_event(view_.get(), &event, &sink.sink) == EVRING_OK) return true;
  if (error.empty()) error = "the view failed without a reason";
  return false;
}

bool ViewPlugin::on_events(std::span<const evring_event> events, std::size_t& applied,
                           std::string& error) {
  applied = 0;
  if (events.empty()) return true;
  if (table_->on_events == nullptr) {
    for (const evring_event& event : events) {
      if (!on_event(event, error)) return false;
      ++applied;
    }
    return true;
  }
  error.clear();
  detail::TextSink sink(error, detail::kPluginMessageLimit);
  if (table_->on_events(view_.get(), events.data(), events.size(), &applied, &sink.sink) ==
      EVRING_OK) {
    applied = events.size();
    return true;
  }
  // A view that claims more than it was given is not believed past the run.
  applied = std::min(applied, events.size() - 1);
  if (error.empty()) error = "the view failed without a reason";
  return false;
}

QueryOutcome ViewPlugin::query(std::span<const std::string_view> words, std::string& out) const {
  const detail::CWords pointers(words);
  out.clear();
  std::string error;
  detail::TextSink json(out, kQueryReplyLimit);
  detail::TextSink why(error, detail::kPluginMessageLimit);
  const int status =
      table_->query(view_.get(), pointers.data(), pointers.size(), &json.sink, &why.sink);
  if (status == EVRING_OK) return QueryOutcome::answered;
  out = error.empty() ? "the view failed without a reason" : error;
  return status == EVRING_MALFORMED ? QueryOutcome::malformed : QueryOutcome::failed;
}

}  // namespace evring
