//! `lists_detailed`: one `GET lists/{id}` per list, skipped for lists that have not changed.
//!
//! The detail endpoint is in Klaviyo's smallest tier (15 requests a minute), and the stream is
//! filtered client-side on `updated`: a list whose `updated` (as the `lists` endpoint reports
//! it) is not later than the partition's starting cursor would be requested only to be
//! dropped. The substream router over `lists` keeps each parent list's `updated` next to the
//! partition, and the retriever yields nothing for such a list without asking the API. Records
//! and state are exactly those of requesting every list; partitions stay
//! `{"id": "<list id>", "parent_slice": {}}`.

use connector_runtime::partition::ParentFields;
use connector_runtime::prelude::*;
use futures::stream::BoxStream;

/// Requests a list's details only when the list changed after the slice's start.
pub struct ChangedListsOnly {
    inner: SimpleRetriever,
    lists: ParentFields,
    format: CursorFormat,
}

/// The router of `lists_detailed` and the wrapper of its retriever
/// ([`StreamBuilder::wrap`]), sharing the parent fields the router keeps.
pub fn components(
    parent: Arc<DeclarativeStream>,
    format: CursorFormat,
) -> (
    PartitionRouter,
    impl FnOnce(SimpleRetriever) -> ChangedListsOnly + 'static,
) {
    let router = SubstreamRouter::new(parent, "id", "id").keep_parent_field("updated", "updated");
    let lists = router.parent_fields();
    (PartitionRouter::Substream(router), move |inner| {
        ChangedListsOnly {
            inner,
            lists,
            format,
        }
    })
}

impl Retriever for ChangedListsOnly {
    fn read<'a>(
        &'a self,
        ctx: &'a StreamContext,
        slice: &'a Slice,
    ) -> BoxStream<'a, Result<Value>> {
        let updated = self
            .lists
            .get(slice, "updated")
            .and_then(|v| self.format.parse(&v));
        let unchanged = match (slice.start(), updated) {
            (Some(start), Some(updated)) => updated <= start,
            _ => false,
        };
        if unchanged {
            return Box::pin(futures::stream::empty());
        }
        self.inner.read(ctx, slice)
    }

    fn first_request(&self, slice: &Slice) -> Option<Result<HttpRequest>> {
        self.inner.first_request(slice)
    }
}
