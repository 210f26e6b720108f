"""Every action of the main window in one table: id, text, shortcut, what it does (slot name)."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtGui, QtWidgets


@dataclass(frozen=True)
class ActionSpec:
    id: str
    text: str
    shortcut: str
    slot: str
    menu: str
    help: str = ""
    icon: str = ""


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("new_project", "&New project…", "Ctrl+N", "files.new_project", "File",
               "Create a project in a folder of your choice", "new-project"),
    ActionSpec("open", "&Open project…", "Ctrl+O", "files.open_dialog", "File", "Open a project folder", "open-project"),
    ActionSpec("close_project", "&Close project", "Ctrl+W", "files.close_project", "File",
               "Close the project and show the start page", "close"),
    ActionSpec("open_demo", "Open the &demo", "", "files.open_demo", "File",
               "A small project with an image, a video, a CT series and a NIfTI volume", "demo"),
    ActionSpec("add_files", "&Add files…", "Ctrl+Shift+A", "files.add_files", "File",
               "Add images, videos, DICOM, NIfTI (or drop them onto the window)", "add-files"),
    ActionSpec("add_folder", "Add &folder…", "Ctrl+Shift+F", "files.add_folder", "File",
               "Add a folder recursively; DICOM can be de-identified first", "add-folder"),
    ActionSpec("locate_files", "&Locate files…", "", "files.locate_files", "File",
               "Find the files of assets that are not on this computer (matched by content)", "locate"),
    ActionSpec("import_annotations", "&Import annotations…", "Ctrl+Shift+I", "team.import_annotations", "File",
               "COCO, YOLO, VOC, CVAT, labelme, CSV, NIfTI label maps, DICOM SEG"),
    ActionSpec("export_annotations", "&Export annotations…", "Ctrl+Shift+E", "team.export_annotations", "File",
               "Write the final layer, or one layer, in an annotation format"),
    ActionSpec("settings", "Se&ttings…", "Ctrl+,", "show_settings", "File",
               "Theme, mouse wheel, sync interval, who you act as", "settings"),
    ActionSpec("quit", "&Quit", "Ctrl+Q", "close", "File"),
    ActionSpec("asset_next", "Ne&xt asset", "Ctrl+PgDown", "asset_panel.step_next", "View",
               "The next asset of the list (as filtered); Ctrl+PgUp goes back"),
    ActionSpec("asset_prev", "Pre&vious asset", "Ctrl+PgUp", "asset_panel.step_previous", "View"),
    ActionSpec("layout_1x1", "Layout 1×1", "Ctrl+1", "layout_1x1", "View", "One viewport"),
    ActionSpec("layout_1x2", "Layout 1×2", "Ctrl+2", "layout_1x2", "View", "Two side by side"),
    ActionSpec("layout_2x1", "Layout 2×1", "Ctrl+Shift+2", "layout_2x1", "View", "Two stacked"),
    ActionSpec("layout_2x2", "Layout 2×2", "Ctrl+4", "layout_2x2", "View", "Four viewports"),
    ActionSpec("layout_1x3", "Layout 1×3", "Ctrl+Shift+3", "layout_1x3", "View", "Three side by side"),
    ActionSpec("mpr", "Axial, coronal, sagittal (1×3)", "Ctrl+3", "show_mpr", "View",
               "The current volume in three linked reformats; Shift+click moves the crosshair"),
    ActionSpec("fit", "&Fit to window", "F", "viewport.fit", "View", "Zoom to fit the whole plane"),
    ActionSpec("zoom_in", "Zoom &in", "+", "viewport.zoom_in", "View"),
    ActionSpec("zoom_out", "Zoom &out", "-", "viewport.zoom_out", "View"),
    ActionSpec("slice_next", "Next slice", "Up", "viewport.next_slice", "View", "The wheel pages slices on volumes"),
    ActionSpec("slice_prev", "Previous slice", "Down", "viewport.prev_slice", "View"),
    ActionSpec("slice_next10", "Slice +10", "PgUp", "viewport.next_slice_10", "View"),
    ActionSpec("slice_prev10", "Slice −10", "PgDown", "viewport.prev_slice_10", "View"),
    ActionSpec("frame_next", "Next frame", "Right", "viewport.next_frame", "View", "Video frame or 4-D time point"),
    ActionSpec("frame_prev", "Previous frame", "Left", "viewport.prev_frame", "View"),
    ActionSpec("frame_next10", "Frame +10", "Shift+Right", "viewport.next_frame_10", "View"),
    ActionSpec("frame_prev10", "Frame −10", "Shift+Left", "viewport.prev_frame_10", "View"),
    ActionSpec("play", "&Play / pause", "Space", "playback.toggle", "View", "Video frames or cine through slices"),
    ActionSpec("goto", "&Go to frame or slice…", "Ctrl+G", "playback.jump_dialog", "View"),
    ActionSpec("axial", "&Axial", "A", "viewport.show_axial", "View", "Volume reformat"),
    ActionSpec("coronal", "&Coronal", "C", "viewport.show_coronal", "View"),
    ActionSpec("sagittal", "&Sagittal", "S", "viewport.show_sagittal", "View"),
    ActionSpec("invert", "&Invert", "I", "viewport.toggle_invert", "View"),
    ActionSpec("colourmap", "Next &colour map", "M", "viewport.cycle_colourmap", "View", "grey, hot, bone, viridis, jet"),
    ActionSpec("tags", "Asset &header (DICOM tags / NIfTI header)…", "Ctrl+T", "show_header", "View"),
    ActionSpec("reset_wl", "&Reset window/level", "0", "viewport.reset_window", "View", "Ctrl+drag changes W/L"),
    ActionSpec("wl_brain", "W/L: brain", "Alt+1", "viewport.preset_brain", "View"),
    ActionSpec("wl_lung", "W/L: lung", "Alt+2", "viewport.preset_lung", "View"),
    ActionSpec("wl_bone", "W/L: bone", "Alt+3", "viewport.preset_bone", "View"),
    ActionSpec("wl_abdomen", "W/L: abdomen", "Alt+4", "viewport.preset_abdomen", "View"),
    ActionSpec("wl_soft", "W/L: soft tissue", "Alt+5", "viewport.preset_soft", "View"),
    ActionSpec("wl_auto", "W/L: auto", "Alt+0", "viewport.preset_auto", "View"),
    ActionSpec("review_panel", "&Review panel", "Ctrl+Shift+R", "team.show_review", "Review",
               "Items to review, their states, issues and comment threads"),
    ActionSpec("approve", "&Approve", "Ctrl+Alt+A", "team.approve", "Review", "Approve the selected layer as it is"),
    ActionSpec("return_item", "Re&turn…", "Ctrl+Alt+R", "team.return_item", "Review",
               "Return the selected layer to its annotator with a reason"),
    ActionSpec("fix_approve", "&Fix and approve", "Ctrl+Alt+F", "team.fix_approve", "Review",
               "Copy the layer into the final layer, approve it and fix it there"),
    ActionSpec("submit", "&Submit my layer", "Ctrl+Alt+S", "team.submit", "Review", "Submit your layer on this asset"),
    ActionSpec("adjudicate", "A&djudicate…", "Ctrl+Alt+J", "team.adjudicate", "Review",
               "Settle a dispute: choose the layer that becomes the final result"),
    ActionSpec("new_issue", "New &issue here…", "Ctrl+Alt+I", "team.new_issue", "Review",
               "Pin an issue to the last clicked point of this slice or frame"),
    ActionSpec("agreement", "Agreement &metrics", "Ctrl+Shift+M", "team.show_agreement", "Review",
               "Inter-annotator agreement; review queue lowest agreement first"),
    ActionSpec("predictions", "&Predictions", "Ctrl+Shift+P", "team.show_predictions", "Review",
               "Model predictions of this asset: accept, reject, sort the queue by uncertainty"),
    ActionSpec("clear_comparison", "&Clear comparison overlay", "", "team.clear_comparison", "Review"),
    ActionSpec("audit", "Audit &trail…", "Ctrl+Alt+T", "team.show_audit", "Review",
               "The op log filtered by item, user and period, with the hash chain verified"),
    ActionSpec("share", "&Share this project…", "", "team.share_project", "Team",
               "Publish the project to a shared folder (network share, Syncthing, Dropbox, OneDrive)"),
    ActionSpec("join", "&Join a shared project…", "", "team.join_project", "Team",
               "Make your own local copy of a shared project and open it"),
    ActionSpec("sync_now", "Sync &now", "F5", "team.sync_now", "Team",
               "Publish your changes and merge the others' (also every 10 s in the background)"),
    ActionSpec("sync_panel", "Sync &panel", "Ctrl+Shift+Y", "team.show_sync", "Team",
               "Per device: last segment, waiting, pending, conflicts, clock warnings"),
    ActionSpec("conflicts", "Sync &conflicts…", "", "team.show_conflicts", "Team",
               "Edits that collided: both values are kept until you decide"),
    ActionSpec("shortcuts", "&Keyboard shortcuts", "F1", "show_shortcuts", "Help"),
    ActionSpec("guide", "&Labeling guide", "Shift+F1", "show_labeling_guide", "Help", "The project's labeling guide"),
    ActionSpec("about", "&About labeldesk", "", "show_about", "Help"),
)


def build_actions(window: QtWidgets.QMainWindow) -> dict[str, QtGui.QAction]:
    """Create the QActions, put them in menus and connect them to ``window`` (dotted slots allowed)."""
    menus: dict[str, QtWidgets.QMenu] = {}
    out: dict[str, QtGui.QAction] = {}
    for spec in ACTIONS:
        menu = menus.get(spec.menu)
        if menu is None:
            menu = menus[spec.menu] = window.menuBar().addMenu(f"&{spec.menu}")
            menu.setToolTipsVisible(True)         # a disabled action says why (the role it needs)
        action = QtGui.QAction(spec.text, window)
        action.setObjectName(f"action_{spec.id}")
        if spec.icon:
            from labeldesk.qt.icons import set_icon
            set_icon(action, spec.icon)
        if spec.shortcut:
            action.setShortcut(QtGui.QKeySequence(spec.shortcut))
        action.setStatusTip(spec.help)
        action.setToolTip(f"{spec.text.replace('&', '')} ({spec.shortcut})" if spec.shortcut else spec.text.replace("&", ""))
        action.triggered.connect(lambda _=False, slot=spec.slot: call(window, slot))
        menu.addAction(action)
        out[spec.id] = action
    return out


def call(window: object, slot: str) -> None:
    """Call a dotted slot such as ``viewport.fit`` on the window, resolved now (the active
    viewport changes as the user clicks around the grid)."""
    target = window
    *path, name = slot.split(".")
    for part in path:
        target = getattr(target, part)
    getattr(target, name)()
