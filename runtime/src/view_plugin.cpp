#include "evring/view_plugin.hpp"

#include "evring/error.hpp"
#include "plugin_library.hpp"

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
  detail::check_abi_version(table->abi_version, EVRING_VIEW_ABI_VERSION, origin, kViewKind);
  if (table->table_bytes < sizeof(evring_view_v1) || table->name == nullptr ||
      table->create == nullptr || table->destroy == nullptr || table->on_event == nullptr ||
      table->query == nullptr || table->snapshot == nullptr || table->restore == nullptr) {
    throw Error(ErrorCode::incompatible,
                origin +
                    " has an incomplete view table (a function or its name is missing): "
                    "build it with evring/view.hpp's EVRING_EXPORT_VIEW");
  }
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
    : table_(table),
      origin_(origin),
      view_(std::move(library),
            PluginLifecycle{table->create, table->destroy, table->snapshot, table->restore},
            "view " + origin, std::move(config)) {}

bool ViewPlugin::on_event(const evring_event& event, std::string& error) {
  error.clear();
  detail::TextSink sink(error, detail::kPluginMessageLimit);
  if (table_->on_event(view_.get(), &event, &sink.sink) == EVRING_OK) return true;
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
