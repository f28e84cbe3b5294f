/// A FIFO in one ring buffer that doubles when full: push at the back, pop at the front, both O(1), nothing
/// allocated once it has grown to its working size. Empty slots hold `filler` (elements are plain values).
struct RingQueue<Element> {
    private var storage: [Element]
    private var head = 0
    private let filler: Element
    private(set) var count = 0

    init(filler: Element, capacity: Int = 16) {
        self.filler = filler
        var size = 1
        while size < max(1, capacity) { size <<= 1 }
        storage = Array(repeating: filler, count: size)
    }

    var isEmpty: Bool { count == 0 }

    var first: Element? { count > 0 ? storage[head] : nil }

    mutating func push(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) & (storage.count - 1)] = element
        count += 1
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        head = (head + 1) & (storage.count - 1)
        count -= 1
        return element
    }

    /// Twice the room, the elements in order from the start.
    private mutating func grow() {
        var bigger = Array(repeating: filler, count: storage.count * 2)
        for k in 0..<count { bigger[k] = storage[(head + k) & (storage.count - 1)] }
        storage = bigger
        head = 0
    }
}
