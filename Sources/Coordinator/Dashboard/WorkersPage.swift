import Foundation
import SpotwiseCore
import StateStore

/// The workers: where each runs, at what price, whether it is idle, busy or leaving, when the
/// coordinator last heard from it, and the job and rank it holds.
enum WorkersPage {
    struct Row: Sendable {
        var id: String
        var name: String
        var provider: String
        var region: String
        var market: String
        var price: String
        var status: String
        var heartbeat: String
        var job: String?
        var rank: Int?
    }

    static func rows(
        workers: [WorkerRecord], leases: [Lease], board: LiveBoard, nowMilliseconds: Int64
    ) -> [Row] {
        var holding: [WorkerID: (job: String, rank: Int)] = [:]
        for lease in leases where !lease.revoked {
            for (rank, worker) in lease.holders.enumerated() { holding[worker] = (lease.job.rawValue, rank) }
        }
        let ordered = workers.sorted {
            ($0.deregisteredAt == nil ? 0 : 1, $0.name) < ($1.deregisteredAt == nil ? 0 : 1, $1.name)
        }
        return ordered.map { worker in
            let held = holding[worker.id]
            let status =
                worker.deregisteredAt != nil
                ? "gone" : held != nil ? "busy" : board.isLeaving(worker.id) ? "leaving" : "idle"
            let heartbeat = board.lastSeen(worker.id).map {
                DashboardLayout.duration(Double(nowMilliseconds - $0) / 1000) + " ago"
            }
            return Row(
                id: worker.id.rawValue, name: worker.name, provider: worker.provider,
                region: worker.pool?.region ?? "-",
                market: worker.pool?.market.rawValue ?? "-",
                price: worker.pool.map { "$\($0.pricePerHour.exactDescription)/h" } ?? "-", status: status,
                heartbeat: heartbeat ?? (worker.deregisteredAt == nil ? "not since the coordinator started" : "-"),
                job: held?.job, rank: held?.rank)
        }
    }

    static func render(_ rows: [Row], viewer: DashboardLayout.Viewer) -> HTML {
        let counts = Dictionary(grouping: rows, by: \.status).mapValues(\.count)
        let chips = ["idle", "busy", "leaving", "gone"].map { status in
            "<span class=\"chip\">\(status) <b>\(counts[status] ?? 0)</b></span>" as HTML
        }
        return DashboardLayout.page(
            title: "Workers", active: "workers", viewer: viewer,
            content: """
                <h1>Workers</h1><div>\(chips)</div>
                <div id="workers-live" data-refresh="/ui/workers?part=live">\(live(rows))</div>
                """)
    }

    /// The table: what the page refreshes every 2 s.
    static func live(_ rows: [Row]) -> HTML {
        guard !rows.isEmpty else { return "<p class=\"muted\">No worker has registered.</p>" }
        let body = rows.map { row in
            let job: HTML = row.job.map { "<a href=\"/ui/jobs/\(FormBody.encode($0))\">\($0)</a>" } ?? "-"
            return """
                <tr class="worker" data-worker-id="\(row.id)" data-status="\(row.status)"><td class="name">\(row.name)</td>\
                <td class="id">\(row.id)</td><td class="provider">\(row.provider)</td><td class="region">\(row.region)</td>\
                <td class="market">\(row.market)</td><td class="price num">\(row.price)</td>\
                <td class="status">\(row.status)</td><td class="heartbeat">\(row.heartbeat)</td>\
                <td class="job">\(job)</td><td class="rank num">\(row.rank.map(String.init) ?? "-")</td></tr>

                """ as HTML
        }
        return table(body)
    }

    static func table(_ body: [HTML]) -> HTML {
        """
        <table id="workers"><thead><tr><th>name</th><th>id</th><th>provider</th><th>region</th><th>market</th>\
        <th class="num">price</th><th>status</th><th>last heartbeat</th><th>job</th><th class="num">rank</th></tr>\
        </thead><tbody>\(body)</tbody></table>
        """
    }
}
