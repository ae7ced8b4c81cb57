# store-password.ps1: run once, signed in as the account the task runs as (e.g. with
#   runas /user:CORP\svc-glance powershell
# ). Stores the Glance partner password encrypted for that account only (Windows DPAPI).
$ErrorActionPreference = "Stop"
$folder = Join-Path $env:APPDATA "bulk-provision"
New-Item -ItemType Directory -Force -Path $folder | Out-Null
Read-Host -AsSecureString "Glance partner password" | ConvertFrom-SecureString |
    Set-Content -LiteralPath (Join-Path $folder "partner-password.txt")
# Only this account may read the folder (no inherited access for other users).
icacls $folder /inheritance:r /grant:r "${env:USERNAME}:(OI)(CI)F" | Out-Null
Write-Host "Stored in $folder (readable by $env:USERNAME only)."
