/// A value that jobs posted from other threads update, when only the loop's
/// thread touches it (the jobs run there, and the test reads it there):
/// the compiler cannot know that, so the box says it.
final class LoopConfined<Value>: @unchecked Sendable {
    var value: Value

    init(_ value: Value) { self.value = value }
}
