import CLibUV

/// Allocates a libuv handle of type `Handle` whose memory is released by
/// libuv's close callback, so a Swift owner may go away at any time: it
/// calls `close()`, stops receiving callbacks at once, and the handle's
/// memory lives until libuv has finished with it.
struct UVHandle<Handle> {
    let pointer: UnsafeMutablePointer<Handle>

    init() {
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<Handle>.size, alignment: MemoryLayout<Handle>.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<Handle>.size)
        pointer = raw.bindMemory(to: Handle.self, capacity: 1)
    }

    var handle: UnsafeMutablePointer<uv_handle_t> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: uv_handle_t.self)
    }

    /// Binds the handle's callbacks to `owner` without retaining it.
    func attach(_ owner: AnyObject) {
        handle.pointee.data = Unmanaged.passUnretained(owner).toOpaque()
    }

    static func owner<T: AnyObject>(of handle: UnsafeMutablePointer<uv_handle_t>?, as: T.Type) -> T? {
        guard let data = handle?.pointee.data else { return nil }
        return Unmanaged<T>.fromOpaque(data).takeUnretainedValue()
    }

    /// Detaches the owner and closes; memory is freed when libuv is done.
    func close() {
        handle.pointee.data = nil
        if uv_is_closing(handle) == 0 {
            uv_close(handle) { closed in
                closed?.deallocate()
            }
        }
    }
}
