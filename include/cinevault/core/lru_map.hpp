// A map that keeps its most recently used entries within a weight bound. Each entry has a
// weight given when it is put in (1 by default, so that the bound is a count); beyond the
// bound the least recently used entries are dropped, but never the one just put in: an
// entry heavier than the whole bound is kept, alone.
//
// Not thread-safe: the owner calls it under its own lock (the caches built on it keep more
// state under that same lock). Values are returned as pointers into the map, valid until
// the next call that inserts or removes.
//
// Hash and KeyEqual may be transparent (is_transparent), as for std::unordered_map: then
// find, peek and erase take any key type they accept (a std::string_view for std::string
// keys) and build no Key.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <unordered_map>
#include <utility>

namespace cinevault {

template <class Key, class Value, class Hash = std::hash<Key>, class KeyEqual = std::equal_to<Key>>
class LruMap {
 public:
  explicit LruMap(std::size_t max_weight) : max_weight_(max_weight) {}
  LruMap(const LruMap&) = delete;  // the recency list points into the map's nodes
  LruMap& operator=(const LruMap&) = delete;

  // The value under `key` if `accept(value)` says yes, which makes it the most recently
  // used; nullptr otherwise (a value refused is left where it is in the order).
  template <class K, class Accept>
  Value* find(const K& key, Accept&& accept) {
    auto it = entries_.find(key);
    if (it == entries_.end() || !accept(std::as_const(it->second.value))) return nullptr;
    recency_.splice(recency_.begin(), recency_, it->second.recency);
    return &it->second.value;
  }
  template <class K>
  Value* find(const K& key) {
    return find(key, [](const Value&) { return true; });
  }

  // The value under `key`, or nullptr; a look that does not count as a use.
  template <class K>
  Value* peek(const K& key) {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second.value;
  }

  // Puts `value` under `key` as the most recently used, unless the key is there already:
  // then the entry there is left as it was (value, weight and place in the order). Returns
  // the value under `key` and whether it is the one just put in.
  std::pair<Value*, bool> try_emplace(Key key, Value value, std::size_t weight = 1) {
    auto [it, added] = entries_.try_emplace(std::move(key), Node{std::move(value), weight, {}});
    if (!added) return {&it->second.value, false};
    recency_.push_front(&it->first);
    it->second.recency = recency_.begin();
    weight_ += weight;
    evict();
    return {&it->second.value, true};
  }

  // Puts `value` under `key` as the most recently used, replacing what was there.
  Value& insert_or_assign(Key key, Value value, std::size_t weight = 1) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return *try_emplace(std::move(key), std::move(value), weight).first;
    Node& node = it->second;
    node.value = std::move(value);
    weight_ = weight_ - node.weight + weight;
    node.weight = weight;
    recency_.splice(recency_.begin(), recency_, node.recency);
    evict();
    return node.value;
  }

  // Whether there was an entry under `key` to remove.
  template <class K>
  bool erase(const K& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    weight_ -= it->second.weight;
    recency_.erase(it->second.recency);
    entries_.erase(it);
    return true;
  }

  void clear() {
    recency_.clear();
    entries_.clear();
    weight_ = 0;
  }
  std::size_t size() const { return entries_.size(); }
  std::size_t weight() const { return weight_; }

 private:
  using Recency = std::list<const Key*>;  // the keys in the map's nodes, most recently used first
  struct Node {
    Value value;
    std::size_t weight = 1;
    typename Recency::iterator recency;
  };

  void evict() {
    while (weight_ > max_weight_ && entries_.size() > 1) {
      auto victim = entries_.find(*recency_.back());
      weight_ -= victim->second.weight;
      recency_.pop_back();
      entries_.erase(victim);
    }
  }

  // Node pointers (and so the keys recency_ points at) stay valid through rehashing.
  std::unordered_map<Key, Node, Hash, KeyEqual> entries_;
  Recency recency_;
  std::size_t weight_ = 0;
  std::size_t max_weight_;
};

}  // namespace cinevault
