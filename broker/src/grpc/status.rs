//! gRPC statuses for what the broker says: an `Error` answer carries its
//! status code; a session the broker closed is one.

use tonic::{Code, Status};

use crate::proto;

/// The status of an `Error` answer.
pub(super) fn of_error(e: &proto::Error) -> Status {
    Status::new(Code::from_i32(e.code), e.message.clone())
}

/// The status of a session the broker closed: its farewell when it said
/// one, else the reason a live session is closed, falling behind.
pub(super) fn closed(farewell: Option<&proto::Error>) -> Status {
    match farewell {
        Some(e) => of_error(e),
        None => Status::resource_exhausted(
            "the broker closed the session: it fell behind (slow consumer) or the broker stopped",
        ),
    }
}
