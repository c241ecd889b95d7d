// Reactor: the libuv event loop and thin, owned wrappers around its handles.
//
// Everything in the server and the load generator runs on one of these loops. Nothing here knows
// about HTTP, WebSockets or PostgreSQL; the layers above may call in here,
// never the other way round. Each wrapper owns its uv handle: the Swift
// object keeps the handle open while it lives, `close()` (or deinit)
// closes it, and the handle's memory is freed in libuv's close callback.
//
// Strict concurrency (Swift 6 mode): a loop's objects are used on its
// thread only; Mailbox is the one way in from another thread. WorkerThread
// (a loop with only a mailbox) takes long jobs off a loop; SharedBytes are
// immutable bytes that such a job hands back and sockets write uncopied.
