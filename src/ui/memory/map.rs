//! The memory map (a 2-D projection of the vectors, computed by the worker; a
//! click opens the memory) and the timeline of memories added, changed and used.
//! Both are drawn as SVG here; no chart service is involved.

use leptos::prelude::*;

use super::list::kind_class;
use super::{format_date, memories_count, Browse, Editing, Tab};
use crate::core::bank::MemoryFilter;
use crate::core::memory::Kind;
use crate::core::protocol::MemoryMap;
use crate::core::timeline::Timeline;
use crate::ui::services::Services;

/// Points drawn at most (an even sample of larger memories).
const MAX_POINTS: usize = 2_000;
/// Bars in the timeline at most.
const MAX_BUCKETS: usize = 60;
const MAP_WIDTH: f64 = 720.0;
const MAP_HEIGHT: f64 = 420.0;
const MAP_MARGIN: f64 = 12.0;
const CHART_WIDTH: f64 = 720.0;
const CHART_HEIGHT: f64 = 140.0;

#[component]
pub fn MapAndTimeline() -> impl IntoView {
    let services = expect_context::<Services>();
    let browse = expect_context::<Browse>();
    let map = LocalResource::new(move || {
        let filter = MemoryFilter {
            pools: browse.pool.get().into_iter().collect(),
            ..MemoryFilter::default()
        };
        browse.refresh.track();
        async move {
            services
                .worker()
                .map_err(|e| e.to_string())?
                .memory_map(filter, MAX_POINTS)
                .await
                .map_err(|e| e.to_string())
        }
    });
    let timeline = LocalResource::new(move || {
        browse.refresh.track();
        // Minutes ahead of UTC (JavaScript gives minutes behind).
        let offset = -js_sys::Date::new_0().get_timezone_offset() as i32;
        async move {
            services
                .worker()
                .map_err(|e| e.to_string())?
                .timeline(offset, MAX_BUCKETS)
                .await
                .map_err(|e| e.to_string())
        }
    });

    view! {
        <section class="card map-card" aria-labelledby="map-title">
            <h2 id="map-title">"Memory map"</h2>
            <p class="hint">
                "Each dot is a memory, placed by what it is about: memories that say similar things sit close together. "
                "Click a dot to open its memory."
            </p>
            <div class="form-row">
                <label for="map-pool">"Pool"</label>
                <select id="map-pool" prop:value=move || browse.pool.get().unwrap_or_default()
                    on:change=move |event| {
                        let value = event_target_value(&event);
                        browse.pool.set((!value.is_empty()).then_some(value));
                    }>
                    <option value="">"Every pool"</option>
                    {move || browse.pools.get().into_iter().map(|pool| view! {
                        <option value=pool.id.clone()>{pool.name.clone()}</option>
                    }).collect_view()}
                </select>
            </div>
            <Legend/>
            <Suspense fallback=|| view! { <p class="muted">"Drawing the map…"</p> }>
                {move || map.get().map(|result| match result {
                    Ok(map) => view! { <MapDrawing map=map/> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
                })}
            </Suspense>
        </section>
        <section class="card" aria-labelledby="timeline-title">
            <h2 id="timeline-title">"Timeline"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Counting…"</p> }>
                {move || timeline.get().map(|result| match result {
                    Ok(timeline) => view! { <TimelineChart timeline=timeline/> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Legend() -> impl IntoView {
    view! {
        <ul class="map-legend" aria-label="Colours by kind">
            {Kind::ALL.into_iter().map(|kind| view! {
                <li><span class=format!("legend-swatch kind-{}", kind_class(kind)) aria-hidden="true"></span>{kind.label()}</li>
            }).collect_view()}
        </ul>
    }
}

#[component]
fn MapDrawing(map: MemoryMap) -> impl IntoView {
    let browse = expect_context::<Browse>();
    if map.points.is_empty() {
        return view! {
            <div class="empty-state" data-testid="map-empty">
                <p class="lead">"Nothing to draw yet."</p>
                <p>"The map shows memories once they have been embedded (the status bar shows the progress)."</p>
            </div>
        }
        .into_any();
    }
    let (mut low_x, mut high_x, mut low_y, mut high_y) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for point in &map.points {
        low_x = low_x.min(point.x);
        high_x = high_x.max(point.x);
        low_y = low_y.min(point.y);
        high_y = high_y.max(point.y);
    }
    let scale = |value: f32, low: f32, high: f32, size: f64| -> f64 {
        let span = f64::from(high - low);
        if span <= f64::EPSILON {
            size / 2.0
        } else {
            MAP_MARGIN + f64::from(value - low) / span * (size - 2.0 * MAP_MARGIN)
        }
    };
    let caption = if map.points.len() < map.total {
        format!(
            "{} of {} shown (an even sample). The two axes show {:.0}% and {:.0}% of how the memories differ.",
            map.points.len(),
            memories_count(map.total),
            map.explained[0] * 100.0,
            map.explained[1] * 100.0
        )
    } else {
        format!(
            "{}. The two axes show {:.0}% and {:.0}% of how the memories differ.",
            memories_count(map.total),
            map.explained[0] * 100.0,
            map.explained[1] * 100.0
        )
    };
    let points = map
        .points
        .into_iter()
        .map(|point| {
            let cx = scale(point.x, low_x, high_x, MAP_WIDTH);
            // SVG's y grows downwards; the map's upwards.
            let cy = MAP_HEIGHT - scale(point.y, low_y, high_y, MAP_HEIGHT);
            let id = point.id.clone();
            view! {
                <circle class=format!("map-point kind-{}", kind_class(point.kind)) cx=format!("{cx:.1}") cy=format!("{cy:.1}") r="4"
                    data-id=point.id.to_string()
                    on:click=move |_| {
                        browse.editing.set(Some(Editing::Existing(id.clone())));
                        browse.tab.set(Tab::Memories);
                    }>
                    <title>{format!("{}: {}", point.kind.label(), point.label)}</title>
                </circle>
            }
        })
        .collect_view();
    view! {
        <figure class="map-figure">
            <svg class="memory-map" data-testid="memory-map" role="img" aria-label="Map of the memories by topic"
                viewBox=format!("0 0 {MAP_WIDTH} {MAP_HEIGHT}") preserveAspectRatio="xMidYMid meet">
                <rect class="map-frame" x="0" y="0" width=MAP_WIDTH height=MAP_HEIGHT></rect>
                {points}
            </svg>
            <figcaption class="hint">{caption}</figcaption>
        </figure>
    }
    .into_any()
}

#[component]
fn TimelineChart(timeline: Timeline) -> impl IntoView {
    if timeline.buckets.is_empty() {
        return view! { <p class="muted" data-testid="timeline-empty">"No memories yet, so no history."</p> }.into_any();
    }
    let peak = f64::from(timeline.peak().max(1));
    let count = timeline.buckets.len() as f64;
    let slot = CHART_WIDTH / count;
    let bar = (slot / 3.0 - 1.0).max(1.0);
    let period = if timeline.days_per_bucket == 1 {
        "day".to_owned()
    } else {
        format!("{} days", timeline.days_per_bucket)
    };
    let first = format_date(timeline.buckets.first().map_or(0, |bucket| bucket.start));
    let last = format_date(timeline.buckets.last().map_or(0, |bucket| bucket.start));
    let rows = timeline.buckets.clone();
    let bars = timeline
        .buckets
        .into_iter()
        .enumerate()
        .map(|(index, bucket)| {
            let x = index as f64 * slot;
            let height = |value: u32| f64::from(value) / peak * (CHART_HEIGHT - 4.0);
            let series = [
                ("added", bucket.added),
                ("changed", bucket.changed),
                ("used", bucket.last_used),
            ];
            view! {
                <g>
                    <title>{format!(
                        "{}: {} added, {} changed, {} last used",
                        format_date(bucket.start), bucket.added, bucket.changed, bucket.last_used
                    )}</title>
                    {series.into_iter().enumerate().map(|(position, (class, value))| {
                        let h = height(value);
                        view! {
                            <rect class=format!("bar bar-{class}") x=format!("{:.1}", x + position as f64 * (bar + 1.0))
                                y=format!("{:.1}", CHART_HEIGHT - h) width=format!("{bar:.1}") height=format!("{h:.1}")></rect>
                        }
                    }).collect_view()}
                </g>
            }
        })
        .collect_view();
    view! {
        <figure class="timeline-figure">
            <svg class="timeline" data-testid="timeline" role="img"
                aria-label=format!("Memories added, changed and last used per {period}")
                viewBox=format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}") preserveAspectRatio="none">
                {bars}
            </svg>
            <figcaption class="timeline-axis">
                <span>{first}</span>
                <ul class="map-legend" aria-label="Series">
                    <li><span class="legend-swatch bar-added" aria-hidden="true"></span>"Added"</li>
                    <li><span class="legend-swatch bar-changed" aria-hidden="true"></span>"Changed"</li>
                    <li><span class="legend-swatch bar-used" aria-hidden="true"></span>"Last used"</li>
                </ul>
                <span>{last}</span>
            </figcaption>
            <details>
                <summary>"Show as a table"</summary>
                <table class="timeline-table">
                    <thead><tr><th scope="col">{format!("Period ({period})")}</th><th scope="col">"Added"</th><th scope="col">"Changed"</th><th scope="col">"Last used"</th></tr></thead>
                    <tbody>
                        {rows.into_iter().filter(|b| b.added + b.changed + b.last_used > 0).map(|bucket| view! {
                            <tr><td>{format_date(bucket.start)}</td><td>{bucket.added}</td><td>{bucket.changed}</td><td>{bucket.last_used}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </details>
        </figure>
    }
    .into_any()
}
