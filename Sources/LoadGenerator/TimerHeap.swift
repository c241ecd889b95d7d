/// A binary min-heap of (due time, node index): which node of the
/// realistic profile has the next scheduled message.
struct TimerHeap {
    private var items: [(due: UInt64, node: Int)] = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var first: (due: UInt64, node: Int)? { items.first }

    mutating func push(due: UInt64, node: Int) {
        items.append((due, node))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].due < items[parent].due else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (due: UInt64, node: Int)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left].due < items[smallest].due { smallest = left }
            if right < items.count, items[right].due < items[smallest].due { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
