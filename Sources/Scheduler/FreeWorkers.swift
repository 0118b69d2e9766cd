import SpotwiseCore

/// The idle workers a plan has not given out yet, grouped by everything the planner decides on
/// (provider, pool with its region, market, instance type and prices, and kind). Within a group
/// workers differ only by id, so the cheapest (`PlacementPlanner.cheaperFirst`) is the smallest
/// id: a single-node job is decided from one representative per group instead of every idle
/// worker, and a pass grows with jobs x groups, not jobs x workers.
struct FreeWorkers {
    struct Group {
        var workers: [IdleWorker]  // by id
        var head = 0
    }

    private var groups: [IdleWorker: Group] = [:]
    private var removed: Set<PlacementTarget> = []

    init(_ workers: [IdleWorker]) {
        var byGroup: [IdleWorker: [IdleWorker]] = [:]
        for worker in workers { byGroup[Self.key(worker), default: []].append(worker) }
        groups = byGroup.mapValues { Group(workers: $0.sorted { $0.id < $1.id }) }
    }

    /// A group's key: the worker with its id blanked.
    static func key(_ worker: IdleWorker) -> IdleWorker {
        var key = worker
        key.id = worker.id.blanked
        return key
    }

    /// The cheapest free worker of each group whose workers `include` accepts (it may only look
    /// at what the group shares: provider, pool, kind).
    mutating func representatives(_ include: (IdleWorker) -> Bool) -> [IdleWorker] {
        var found: [IdleWorker] = []
        for key in Array(groups.keys) where include(key) {
            if let first = first(of: key) { found.append(first) }
        }
        return found
    }

    /// Every free worker `include` accepts (gangs need them all).
    func all(_ include: (IdleWorker) -> Bool) -> [IdleWorker] {
        groups.filter { include($0.key) }.values.flatMap { group in
            group.workers[group.head...].filter { !removed.contains($0.id) }
        }
    }

    /// The group's first worker not given out, skipping (and dropping) those removed.
    private mutating func first(of key: IdleWorker) -> IdleWorker? {
        guard var group = groups[key] else { return nil }
        while group.head < group.workers.count, removed.contains(group.workers[group.head].id) { group.head += 1 }
        groups[key] = group
        return group.head < group.workers.count ? group.workers[group.head] : nil
    }

    mutating func remove(_ workers: some Sequence<IdleWorker>) {
        for worker in workers { removed.insert(worker.id) }
    }
}
