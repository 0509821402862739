//! Browsing the memory: filter, sort and page through every memory (the memory
//! page's list), as opposed to ranking by relevance (`bank::CaseBank::search`).

use serde::{Deserialize, Serialize};

use crate::core::bank::MemoryFilter;
use crate::core::memory::{Memory, MemoryId, Millis, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    #[default]
    Newest,
    Oldest,
    RecentlyChanged,
    RecentlyUsed,
    MostUsed,
    Alphabetical,
}

impl SortOrder {
    pub const ALL: [SortOrder; 6] = [
        SortOrder::Newest,
        SortOrder::Oldest,
        SortOrder::RecentlyChanged,
        SortOrder::RecentlyUsed,
        SortOrder::MostUsed,
        SortOrder::Alphabetical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Newest => "newest",
            SortOrder::Oldest => "oldest",
            SortOrder::RecentlyChanged => "recently_changed",
            SortOrder::RecentlyUsed => "recently_used",
            SortOrder::MostUsed => "most_used",
            SortOrder::Alphabetical => "alphabetical",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortOrder::Newest => "Newest first",
            SortOrder::Oldest => "Oldest first",
            SortOrder::RecentlyChanged => "Recently changed",
            SortOrder::RecentlyUsed => "Recently used",
            SortOrder::MostUsed => "Most used",
            SortOrder::Alphabetical => "A to Z",
        }
    }

    pub fn from_form_value(value: &str) -> SortOrder {
        SortOrder::ALL
            .into_iter()
            .find(|order| order.as_str() == value)
            .unwrap_or_default()
    }
}

/// Where a memory came from, without the details (for filtering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Manual,
    Conversation,
    Extraction,
    Document,
    Import,
}

impl SourceKind {
    pub const ALL: [SourceKind; 5] = [
        SourceKind::Manual,
        SourceKind::Conversation,
        SourceKind::Extraction,
        SourceKind::Document,
        SourceKind::Import,
    ];

    pub fn of(source: &Source) -> SourceKind {
        match source {
            Source::Manual => SourceKind::Manual,
            Source::Conversation { .. } => SourceKind::Conversation,
            Source::Extraction { .. } => SourceKind::Extraction,
            Source::Document { .. } => SourceKind::Document,
            Source::Import { .. } => SourceKind::Import,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SourceKind::Manual => "Written by you",
            SourceKind::Conversation => "From a conversation",
            SourceKind::Extraction => "Extracted automatically",
            SourceKind::Document => "From a document",
            SourceKind::Import => "Imported",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ListQuery {
    /// Only memories whose text (or case question, answer, correction) contains
    /// this, ignoring case. Empty: all.
    #[serde(default)]
    pub contains: String,
    #[serde(default)]
    pub filter: MemoryFilter,
    #[serde(default)]
    pub sources: Vec<SourceKind>,
    /// Created at or after / before these times.
    #[serde(default)]
    pub created_from: Option<Millis>,
    #[serde(default)]
    pub created_until: Option<Millis>,
    /// The trash instead of the live memories.
    #[serde(default)]
    pub trash: bool,
    #[serde(default)]
    pub sort: SortOrder,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ListPage {
    /// How many memories match in all (not just on this page).
    pub total: usize,
    pub memories: Vec<Memory>,
}

impl ListQuery {
    pub fn matches(&self, memory: &Memory, needle: &str) -> bool {
        memory.trashed_at.is_some() == self.trash
            && self.filter.allows(memory)
            && (self.sources.is_empty() || self.sources.contains(&SourceKind::of(&memory.source)))
            && self
                .created_from
                .is_none_or(|from| memory.created_at >= from)
            && self
                .created_until
                .is_none_or(|until| memory.created_at < until)
            && (needle.is_empty() || memory.keyword_text().to_lowercase().contains(needle))
    }
}

/// The page of `memories` that `query` asks for, and how many match in all.
pub fn list<'a>(memories: impl Iterator<Item = &'a Memory>, query: &ListQuery) -> ListPage {
    let matching = sorted_matches(memories, query);
    let total = matching.len();
    ListPage {
        total,
        memories: matching
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .cloned()
            .collect(),
    }
}

/// The ids of every memory `query` matches, in its order (its offset and limit
/// are ignored): what "select all" selects.
pub fn matching_ids<'a>(
    memories: impl Iterator<Item = &'a Memory>,
    query: &ListQuery,
) -> Vec<MemoryId> {
    sorted_matches(memories, query)
        .into_iter()
        .map(|memory| memory.id.clone())
        .collect()
}

fn sorted_matches<'a>(
    memories: impl Iterator<Item = &'a Memory>,
    query: &ListQuery,
) -> Vec<&'a Memory> {
    let needle = query.contains.trim().to_lowercase();
    let mut matching: Vec<&Memory> = memories
        .filter(|memory| query.matches(memory, &needle))
        .collect();
    let by_id = |a: &&Memory, b: &&Memory| a.id.cmp(&b.id);
    match query.sort {
        SortOrder::Newest => {
            matching.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(by_id(b, a)))
        }
        SortOrder::Oldest => {
            matching.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(by_id(a, b)))
        }
        SortOrder::RecentlyChanged => {
            matching.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(by_id(b, a)))
        }
        SortOrder::RecentlyUsed => {
            matching.sort_by(|a, b| b.last_used_at.cmp(&a.last_used_at).then(by_id(b, a)))
        }
        SortOrder::MostUsed => {
            matching.sort_by(|a, b| b.use_count.cmp(&a.use_count).then(by_id(b, a)))
        }
        SortOrder::Alphabetical => {
            matching.sort_by_cached_key(|memory| (memory.text.to_lowercase(), memory.id.clone()))
        }
    }
    matching
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::memory::{Kind, MemoryId};

    fn memories() -> Vec<Memory> {
        let mut all = Vec::new();
        for (n, text) in ["banana bread", "Apple pie", "cherry tart", "apple cider"]
            .iter()
            .enumerate()
        {
            let mut memory = Memory::new(
                MemoryId(format!("m{n}")),
                Kind::Note,
                *text,
                Source::Manual,
                1_000 + n as u64,
            );
            memory.use_count = [5, 0, 2, 9][n];
            all.push(memory);
        }
        all[2].trashed_at = Some(2_000);
        all[3].source = Source::Import {
            file_name: "x.json".into(),
        };
        all
    }

    fn texts(page: &ListPage) -> Vec<&str> {
        page.memories.iter().map(|m| m.text.as_str()).collect()
    }

    #[test]
    fn text_search_ignores_case_and_the_trash_is_separate() {
        let all = memories();
        let query = ListQuery {
            contains: "APPLE".into(),
            limit: 10,
            ..ListQuery::default()
        };
        let page = list(all.iter(), &query);
        assert_eq!(texts(&page), ["apple cider", "Apple pie"]);
        let trash = list(
            all.iter(),
            &ListQuery {
                trash: true,
                limit: 10,
                ..ListQuery::default()
            },
        );
        assert_eq!(texts(&trash), ["cherry tart"]);
    }

    #[test]
    fn sorting_paging_and_source_filters_hold() {
        let all = memories();
        let query = ListQuery {
            sort: SortOrder::MostUsed,
            offset: 1,
            limit: 1,
            ..ListQuery::default()
        };
        let page = list(all.iter(), &query);
        assert_eq!(page.total, 3);
        assert_eq!(texts(&page), ["banana bread"]);
        let alphabetical = list(
            all.iter(),
            &ListQuery {
                sort: SortOrder::Alphabetical,
                limit: 10,
                ..ListQuery::default()
            },
        );
        assert_eq!(
            texts(&alphabetical),
            ["apple cider", "Apple pie", "banana bread"]
        );
        let imported = list(
            all.iter(),
            &ListQuery {
                sources: vec![SourceKind::Import],
                limit: 10,
                ..ListQuery::default()
            },
        );
        assert_eq!(texts(&imported), ["apple cider"]);
        assert_eq!(SortOrder::from_form_value("most_used"), SortOrder::MostUsed);
    }

    #[test]
    fn matching_ids_are_every_match_in_list_order_whatever_the_page() {
        let all = memories();
        let query = ListQuery {
            sort: SortOrder::Alphabetical,
            offset: 1,
            limit: 1,
            ..ListQuery::default()
        };
        let ids: Vec<String> = matching_ids(all.iter(), &query)
            .into_iter()
            .map(|id| id.0)
            .collect();
        assert_eq!(ids, ["m3", "m1", "m0"]);
    }
}
