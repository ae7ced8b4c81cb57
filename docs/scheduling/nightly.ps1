# nightly.ps1: the Windows Task Scheduler's nightly run of bulk-provision.
# Run by the task's own account; reads the Glance partner password that account stored with
# store-password.ps1 (Windows DPAPI: only that account, on this machine, can read it back).
$ErrorActionPreference = "Stop"
$folder = Join-Path $env:APPDATA "bulk-provision"
$stored = Join-Path $folder "partner-password.txt"
$secure = Get-Content -LiteralPath $stored | ConvertTo-SecureString
$env:GLANCE_PARTNER_PW = [System.Net.NetworkCredential]::new("", $secure).Password
Set-Location $folder
& bulk-provision run "D:\hr-drop\hr-export.xlsx" --mode sync --protect "admin*" `
    --log-file (Join-Path $folder "api-calls.jsonl") *>> (Join-Path $folder "nightly.log")
$code = $LASTEXITCODE
Remove-Item Env:\GLANCE_PARTNER_PW
# The exit code is the task's "Last Run Result" (0x1 = some rows failed, 0x2 = refused ...).
exit $code
